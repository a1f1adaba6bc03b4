package importer

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/semaphored/semaphored/internal/config"
)

// FuzzImport checks that any document either is refused with a path error
// or converts into a tree the config loader accepts.
func FuzzImport(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/good/*.json")
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"meta":{"name":"p"},"templates":[{"name":"t","repository":"r"}],"repositories":[{"name":"r","git_url":"x"}]}`))
	f.Add([]byte(`{"meta":{"name":"p"},"keys":[{"name":"a b","type":"ssh"},{"name":"a-b","type":"string"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := ParseSemaphore(data)
		if err != nil {
			return
		}
		res, err := Convert(b)
		if err != nil {
			t.Fatalf("Convert: %v", err)
		}
		dir := t.TempDir()
		if err := res.Write(dir, false); err != nil {
			t.Fatalf("Write: %v", err)
		}
		if _, err := config.Load(dir, config.LoadOptions{}); err != nil {
			t.Fatalf("the imported tree does not load:\n%v\ninput: %s", err, data)
		}
	})
}
