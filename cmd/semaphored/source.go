package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/semaphored/semaphored/internal/gitcache"
	"github.com/semaphored/semaphored/internal/sync"
)

// sourceFlags are the flags that say where the configuration comes from.
type sourceFlags struct {
	config, branch, dir string
	sshKey, knownHosts  string
	insecureHostKey     bool
}

func addSourceFlags(fs *flag.FlagSet, defConfig string) *sourceFlags {
	f := &sourceFlags{}
	fs.StringVar(&f.config, "config", envDefault("SEMAPHORED_CONFIG", defConfig), "config source: a local directory (watched) or a git URL ($SEMAPHORED_CONFIG)")
	fs.StringVar(&f.branch, "config-branch", envDefault("SEMAPHORED_CONFIG_BRANCH", "main"), "branch of a git config source ($SEMAPHORED_CONFIG_BRANCH)")
	fs.StringVar(&f.dir, "config-dir", envDefault("SEMAPHORED_CONFIG_DIR", ""), "folder of the declarations inside a git config source ($SEMAPHORED_CONFIG_DIR)")
	fs.StringVar(&f.sshKey, "config-ssh-key", envDefault("SEMAPHORED_CONFIG_SSH_KEY", ""), "private key file for an ssh config source ($SEMAPHORED_CONFIG_SSH_KEY; passphrase in $SEMAPHORED_CONFIG_SSH_PASSPHRASE)")
	fs.StringVar(&f.knownHosts, "config-known-hosts", envDefault("SEMAPHORED_CONFIG_KNOWN_HOSTS", ""), "known_hosts file for an ssh config source ($SEMAPHORED_CONFIG_KNOWN_HOSTS)")
	fs.BoolVar(&f.insecureHostKey, "config-insecure-host-key", os.Getenv("SEMAPHORED_CONFIG_INSECURE_HOST_KEY") == "true", "do not check the ssh host key of the config source ($SEMAPHORED_CONFIG_INSECURE_HOST_KEY)")
	return f
}

// isGitURL tells a git URL (https://, ssh://, file://, user@host:path) from
// a local directory.
func isGitURL(s string) bool {
	if strings.Contains(s, "://") {
		return true
	}
	at, colon := strings.Index(s, "@"), strings.Index(s, ":")
	return at > 0 && colon > at && !strings.Contains(s[:colon], "/")
}

// source builds the config source; git sources fetch through cache and
// keep their checkouts under workDir. The token of an https source comes from
// $SEMAPHORED_CONFIG_TOKEN, never from a flag (argv is public).
func (f *sourceFlags) source(workDir string, cache *gitcache.Cache) (sync.Source, error) {
	if f.config == "" {
		return nil, fmt.Errorf("no config source: pass --config DIR|URL or set SEMAPHORED_CONFIG")
	}
	if !isGitURL(f.config) {
		fi, err := os.Stat(f.config)
		if err != nil {
			if pe := (*os.PathError)(nil); errors.As(err, &pe) {
				err = pe.Err // the path is in the message already
			}
			return nil, fmt.Errorf("config source %s: %w", f.config, err)
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("config source %s is not a directory", f.config)
		}
		abs, err := filepath.Abs(f.config)
		if err != nil {
			return nil, err
		}
		return &sync.DirSource{Dir: abs}, nil
	}
	auth := gitcache.Auth{
		Token:                 os.Getenv("SEMAPHORED_CONFIG_TOKEN"),
		SSHPassphrase:         os.Getenv("SEMAPHORED_CONFIG_SSH_PASSPHRASE"),
		KnownHostsFile:        f.knownHosts,
		InsecureIgnoreHostKey: f.insecureHostKey,
	}
	if f.sshKey != "" {
		key, err := os.ReadFile(f.sshKey)
		if err != nil {
			return nil, fmt.Errorf("config ssh key: %w", err)
		}
		auth.SSHKey = key
	}
	return &sync.GitSource{
		URL:     f.config,
		Branch:  f.branch,
		Subdir:  f.dir,
		Auth:    auth,
		Cache:   cache,
		WorkDir: filepath.Join(workDir, "config"),
	}, nil
}
