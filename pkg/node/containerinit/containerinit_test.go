package containerinit

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestImportsOnlyTheStandardLibraryAndUnix keeps the hook ahead of a large
// binary's initialization (see init): any other dependency would have
// its init, and its own imports', run before every container start.
func TestImportsOnlyTheStandardLibraryAndUnix(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	want := []string{"golang.org/x/sys/unix", "flywheel.dev/pkg/node/containerinit"}
	if diff := cmp.Diff(want, strings.Fields(string(out))); diff != "" {
		t.Errorf("non-standard dependencies (-want, +got):\n%s", diff)
	}
}

// TestLookupEnvTakesTheLastSetting reads a KEY=VALUE list as execve's
// consumers do, where a later setting wins.
func TestLookupEnvTakesTheLastSetting(t *testing.T) {
	env := []string{"PATH=/bin", "HOME=/root", "PATH=/usr/bin:/bin"}
	if got := LookupEnv(env, "PATH"); got != "/usr/bin:/bin" {
		t.Errorf("LookupEnv(PATH) = %q, want /usr/bin:/bin", got)
	}
	if got := LookupEnv(env, "PAT"); got != "" {
		t.Errorf("LookupEnv(PAT) = %q, want empty", got)
	}
}
