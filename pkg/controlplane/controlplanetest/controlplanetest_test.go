package controlplanetest

import "testing"

func TestFindBinDirPrefersTheEnvironment(t *testing.T) {
	t.Setenv(BinDirEnv, "/opt/controlplane/bin")
	got, err := FindBinDir()
	if err != nil || got != "/opt/controlplane/bin" {
		t.Errorf("FindBinDir() = %q, %v; want $%s", got, err, BinDirEnv)
	}
}
