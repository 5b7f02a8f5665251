package config

// UpstreamImage is the program of an upstream image that config/ runs,
// which Flywheel builds from its Go module (pinned in go.mod) instead of
// pulling the upstream image: local mode runs it so, and a release
// (pkg/release) publishes it so, beside Flywheel's own images.
type UpstreamImage struct {
	// ImportPath is the program's main package.
	ImportPath string
	// User is who the upstream image runs the program as,
	// "<uid>[:<gid>]"; empty for ko's nonroot user, as Flywheel's own
	// images run.
	User string
}

// UpstreamImages are the upstream images of config/, by repository
// (the image without its tag). A test holds each manifest's tag to the
// version go.mod pins.
var UpstreamImages = map[string]UpstreamImage{
	// NATS's image sets no user: its server runs as root, and its
	// volume is root's.
	"nats": {ImportPath: "github.com/nats-io/nats-server/v2", User: "0"},
}
