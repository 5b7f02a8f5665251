package clients

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
)

// TestNATSPasswordIsTakenByNATSConfig holds generated passwords to what
// nats.conf accepts from the environment: a password starting with a
// digit made NATS exit at start ("Expected a digit"), once in six.
func TestNATSPasswordIsTakenByNATSConfig(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "nats.conf")
	if err := os.WriteFile(conf, []byte("authorization {\n  user: flywheel\n  password: $NATS_PASSWORD\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, random := range [][]byte{{0x00, 0x01}, {0x9f, 0xff, 0x10}, []byte("0123456789abcdef01234567")} {
		password := natsPassword(random)
		t.Setenv("NATS_PASSWORD", password)
		opts, err := server.ProcessConfigFile(conf)
		if err != nil {
			t.Fatalf("password %q: nats.conf refused it: %v", password, err)
		}
		if opts.Password != password {
			t.Errorf("password %q: NATS read %q", password, opts.Password)
		}
	}
}
