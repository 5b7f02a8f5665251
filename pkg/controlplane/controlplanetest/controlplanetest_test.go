package controlplanetest

import "testing"

func TestIsFlywheelModule(t *testing.T) {
	tests := []struct {
		gomod string
		want  bool
	}{
		{gomod: "module flywheel.dev\n\ngo 1.26.0\n", want: true},
		{gomod: "// comment\nmodule   flywheel.dev\n", want: true},
		// The tools module under third_party sits inside the repository;
		// its directory is not the root.
		{gomod: "module flywheel.dev/third_party/controlplane\n", want: false},
		{gomod: "module example.com/flywheel.dev\n", want: false},
		{gomod: "", want: false},
	}
	for _, tc := range tests {
		if got := isFlywheelModule([]byte(tc.gomod)); got != tc.want {
			t.Errorf("isFlywheelModule(%q) = %v, want %v", tc.gomod, got, tc.want)
		}
	}
}

func TestFindBinDirPrefersTheEnvironment(t *testing.T) {
	t.Setenv(BinDirEnv, "/opt/controlplane/bin")
	got, err := FindBinDir()
	if err != nil || got != "/opt/controlplane/bin" {
		t.Errorf("FindBinDir() = %q, %v; want $%s", got, err, BinDirEnv)
	}
}
