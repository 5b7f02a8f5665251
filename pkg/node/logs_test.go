package node

import (
	"os"
	"path/filepath"
	"testing"
)

func TestTailOffset(t *testing.T) {
	long := make([]byte, 0, 40000)
	for i := range 4000 {
		long = append(long, []byte{byte('a' + i%26), 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', '\n'}...)
	}
	for _, tc := range []struct {
		name    string
		content string
		n       int
		want    string
	}{
		{"last two lines", "a\nb\nc\n", 2, "b\nc\n"},
		{"a final line without newline counts", "a\nb\nc", 2, "b\nc"},
		{"more lines than the file has", "a\nb\n", 5, "a\nb\n"},
		{"an empty file", "", 3, ""},
		{"across read blocks", string(long), 1000, string(long[len(long)-10000:])},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "0.log")
			if err := os.WriteFile(path, []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			off, err := tailOffset(f, tc.n)
			if err != nil {
				t.Fatal(err)
			}
			if got := tc.content[off:]; got != tc.want {
				t.Errorf("tail %d = %q, want %q", tc.n, got, tc.want)
			}
		})
	}
}
