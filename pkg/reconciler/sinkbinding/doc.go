// Package sinkbinding reconciles SinkBindings: it resolves the sink to
// status.sinkUri, gives the pod template of every subject K_SINK and
// K_CE_OVERRIDES (the binding's Do), follows the sink when it moves, and
// takes the variables away again (Undo) before the binding goes. The
// binding webhook (pkg/webhook) binds subjects as they are written; this
// binds the ones that exist, and any the webhook missed.
package sinkbinding
