package jetstream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"k8s.io/apimachinery/pkg/types"
)

// ErrNotConfigured is the error of a Manager without NATS: the process
// was not given its address.
var ErrNotConfigured = errors.New("NATS is not configured: the process has no NATS_URL; install config/eventing")

// Manager makes and deletes Brokers' streams and Triggers' consumers for
// the reconcilers. A Manager without a JetStream answers ErrNotConfigured.
type Manager struct {
	JS jetstream.JetStream
}

// EnsureStream is the package's EnsureStream.
func (m *Manager) EnsureStream(ctx context.Context, broker types.NamespacedName) error {
	if m == nil || m.JS == nil {
		return ErrNotConfigured
	}
	return EnsureStream(ctx, m.JS, broker)
}

// DeleteStream is the package's DeleteStream.
func (m *Manager) DeleteStream(ctx context.Context, broker types.NamespacedName) error {
	if m == nil || m.JS == nil {
		return ErrNotConfigured
	}
	return DeleteStream(ctx, m.JS, broker)
}

// EnsureConsumer is the package's EnsureConsumer.
func (m *Manager) EnsureConsumer(ctx context.Context, broker types.NamespacedName, cfg jetstream.ConsumerConfig) error {
	if m == nil || m.JS == nil {
		return ErrNotConfigured
	}
	_, err := EnsureConsumer(ctx, m.JS, broker, cfg)
	return err
}

// DeleteConsumer is the package's DeleteConsumer.
func (m *Manager) DeleteConsumer(ctx context.Context, broker types.NamespacedName, name string) error {
	if m == nil || m.JS == nil {
		return ErrNotConfigured
	}
	return DeleteConsumer(ctx, m.JS, broker, name)
}

type managerKey struct{}

// WithManager returns ctx carrying m, for the reconcilers' constructors.
func WithManager(ctx context.Context, m *Manager) context.Context {
	return context.WithValue(ctx, managerKey{}, m)
}

// ManagerFrom returns the Manager ctx carries; without one, a Manager that
// answers ErrNotConfigured.
func ManagerFrom(ctx context.Context) *Manager {
	if m, ok := ctx.Value(managerKey{}).(*Manager); ok {
		return m
	}
	return &Manager{}
}

// ConsumerInfo is what the Broker reconciler needs of a consumer to tell
// an orphan.
type ConsumerInfo struct {
	Name    string
	Created time.Time
}

// Consumers lists the consumers of a Broker's stream.
func (m *Manager) Consumers(ctx context.Context, broker types.NamespacedName) ([]ConsumerInfo, error) {
	if m == nil || m.JS == nil {
		return nil, ErrNotConfigured
	}
	s, err := m.JS.Stream(ctx, StreamName(broker))
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", StreamName(broker), err)
	}
	var infos []ConsumerInfo
	list := s.ListConsumers(ctx)
	for ci := range list.Info() {
		infos = append(infos, ConsumerInfo{Name: ci.Name, Created: ci.Created})
	}
	if err := list.Err(); err != nil {
		return nil, fmt.Errorf("listing the consumers of stream %s: %w", StreamName(broker), err)
	}
	return infos, nil
}
