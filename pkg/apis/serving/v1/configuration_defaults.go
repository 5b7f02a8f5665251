package v1

import "context"

// SetDefaults implements apis.Defaultable.
func (c *Configuration) SetDefaults(ctx context.Context) {
	var old *ConfigurationSpec
	if base, ok := baseline[*Configuration](ctx); ok {
		old = &base.Spec
	}
	c.Spec.SetDefaults(ctx)
	setUserInfo(ctx, old, &c.Spec, &c.ObjectMeta)
}

// SetDefaults completes the template.
func (cs *ConfigurationSpec) SetDefaults(ctx context.Context) {
	cs.Template.SetDefaults(ctx)
}
