package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/semaphored/semaphored/examples"
)

// extractQuickstart writes the bundled quickstart tree to DATA/quickstart,
// replacing what an earlier start wrote, and returns that directory.
func extractQuickstart(data string) (string, error) {
	dst := filepath.Join(data, "quickstart")
	if err := os.RemoveAll(dst); err != nil {
		return "", fmt.Errorf("quickstart: %w", err)
	}
	sub, err := fs.Sub(examples.Quickstart, "quickstart")
	if err != nil {
		return "", err
	}
	if err := os.CopyFS(dst, sub); err != nil {
		return "", fmt.Errorf("quickstart: %w", err)
	}
	return filepath.Abs(dst)
}
