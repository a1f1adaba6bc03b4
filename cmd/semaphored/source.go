package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/semaphored/semaphored/internal/config"
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

// isGitURL tells a git URL (https://, ssh://, git://, file://, scp-like
// [user@]host:path) from a local directory, as config.ClassifyURL does for
// repositories; anything else (a relative name like "config") is a
// directory.
func isGitURL(s string) bool {
	switch config.ClassifyURL(s) {
	case config.URLHTTP, config.URLSSH, config.URLGit, config.URLFile:
		return true
	}
	return false
}

// source builds the config source; git sources fetch through cache and
// keep their checkouts under workDir. The token of an https source comes from
// $SEMAPHORED_CONFIG_TOKEN, never from a flag (argv is public). A missing
// directory is an error.
func (f *sourceFlags) source(workDir string, cache *gitcache.Cache) (sync.Source, error) {
	return f.open(workDir, cache, false)
}

// open is source; with allowMissing a directory that does not exist (yet,
// or any more) is a source all the same: the daemon then runs on its last
// good revision and waits for the directory to come back.
func (f *sourceFlags) open(workDir string, cache *gitcache.Cache, allowMissing bool) (sync.Source, error) {
	if f.config == "" {
		return nil, fmt.Errorf("no config source: pass --config DIR|URL or set SEMAPHORED_CONFIG")
	}
	if !isGitURL(f.config) {
		fi, err := os.Stat(f.config)
		if err != nil && !(allowMissing && errors.Is(err, fs.ErrNotExist)) {
			if pe := (*os.PathError)(nil); errors.As(err, &pe) {
				err = pe.Err // the path is in the message already
			}
			return nil, fmt.Errorf("config source %s: %w", f.config, err)
		}
		if err == nil && !fi.IsDir() {
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
