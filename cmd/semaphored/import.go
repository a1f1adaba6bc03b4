package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/semaphored/semaphored/internal/importer"
)

// maxBackupSize bounds the Semaphore backup the import reads.
const maxBackupSize = 64 << 20

// cmdImport converts another tool's export into a config tree. Only
// Semaphore UI project backups are known: `import semaphore BACKUP.json
// --out DIR [--force]`. It writes one file per kind and IMPORT.md into DIR
// and prints the report: the variables to provide, the values to fill in,
// and what was not imported.
func cmdImport(_ context.Context, args []string, stdout, stderr io.Writer) error {
	const use = "usage: semaphored import semaphore BACKUP.json --out DIR [--force]"
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprintln(stderr, use)
		return flag.ErrHelp
	}
	if len(args) == 0 || args[0] != "semaphore" {
		fmt.Fprintln(stderr, use)
		if len(args) > 0 && args[0] != "-h" && args[0] != "--help" {
			fmt.Fprintf(stderr, "unknown source %q: only Semaphore UI project backups (semaphore) can be imported\n", args[0])
		}
		return errUsage
	}
	fs := newFlagSet("import semaphore", stderr)
	out := fs.String("out", "", "directory to write the config files into (required)")
	force := fs.Bool("force", false, "replace files that already exist in --out")
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return err // -h: exit 0 after the help; a bad flag: said, exit 2
	}
	if len(pos) != 1 || *out == "" {
		fmt.Fprintln(stderr, use)
		return errUsage
	}
	f, err := os.Open(pos[0])
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxBackupSize+1))
	if err != nil {
		return fmt.Errorf("import: read %s: %w", pos[0], err)
	}
	if len(data) > maxBackupSize {
		return fmt.Errorf("import: %s is larger than %d MiB; is it a project backup?", pos[0], maxBackupSize>>20)
	}
	b, err := importer.ParseSemaphore(data)
	if err != nil {
		return fmt.Errorf("import %s: %w", pos[0], err)
	}
	res, err := importer.Convert(b)
	if err != nil {
		return fmt.Errorf("import %s: %w", pos[0], err)
	}
	if err := res.Write(*out, *force); err != nil {
		return err
	}
	if err := res.Report.WriteText(stdout); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nWrote %d files and %s into %s. Check them with: semaphored validate %s\n", len(res.Files), importer.ReportFile, *out, *out)
	return nil
}
