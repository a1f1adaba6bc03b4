package gitcache_test

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/semaphored/semaphored/internal/gitcache"
	"github.com/semaphored/semaphored/internal/testenv"
)

func TestCheckoutHTTPBasicAuth(t *testing.T) {
	const user, password = "deploy", "s3cret-Passw0rd"
	s, sha := serveRepo(t, map[string]string{"a.txt": "one\n"}, testenv.WithBasicAuth(user, password))
	withUserInfo := func(u, p string) string {
		parsed, err := url.Parse(s.url)
		if err != nil {
			t.Fatal(err)
		}
		parsed.User = url.UserPassword(u, p)
		return parsed.String()
	}
	tests := []struct {
		name    string
		url     string
		auth    gitcache.Auth
		wantErr error
		secret  string
	}{
		{name: "auth fields", url: s.url, auth: gitcache.Auth{Username: user, Password: password}},
		{name: "credentials in url", url: withUserInfo(user, password)},
		{name: "token with user", url: s.url, auth: gitcache.Auth{Username: user, Token: password}},
		{name: "no credentials", url: s.url, wantErr: gitcache.ErrAuth},
		{name: "wrong password", url: s.url, auth: gitcache.Auth{Username: user, Password: "wrong-Pa55word-xyz"}, wantErr: gitcache.ErrAuth, secret: "wrong-Pa55word-xyz"},
		{name: "wrong token", url: s.url, auth: gitcache.Auth{Token: "ghp_wrongTokenValue123"}, wantErr: gitcache.ErrAuth, secret: "ghp_wrongTokenValue123"},
		{name: "wrong password in url", url: withUserInfo(user, "url-Secret-999"), wantErr: gitcache.ErrAuth, secret: "url-Secret-999"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs testenv.LockedBuffer
			c := gitcache.New(t.TempDir(), gitcache.Options{Logger: newLogger(&logs)})
			dst := filepath.Join(t.TempDir(), "work")
			got, err := c.Checkout(context.Background(), tt.url, tt.auth, sha, "", dst)
			if tt.wantErr == nil {
				if err != nil || got.SHA != sha {
					t.Fatalf("Checkout: got %+v, %v; want %s", got, err, sha)
				}
				if _, err := os.Stat(filepath.Join(dst, "a.txt")); err != nil {
					t.Errorf("a.txt not checked out: %v", err)
				}
				return
			}
			t.Logf("error: %v", err)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("got error %v, want %v", err, tt.wantErr)
			}
			if gitcache.IsTransient(err) {
				t.Errorf("IsTransient(%v): got true, want false", err)
			}
			if !strings.Contains(err.Error(), s.srv.URL) {
				t.Errorf("error %q does not name the repository", err)
			}
			if tt.secret != "" {
				if strings.Contains(err.Error(), tt.secret) {
					t.Errorf("error %q contains the secret", err)
				}
				if strings.Contains(logs.String(), tt.secret) {
					t.Errorf("logs contain the secret:\n%s", logs.String())
				}
			}
			// Resolve fails the same way.
			_, err = c.Resolve(context.Background(), tt.url, tt.auth, "main")
			if !errors.Is(err, tt.wantErr) || (tt.secret != "" && strings.Contains(err.Error(), tt.secret)) {
				t.Errorf("Resolve: got error %v, want %v without the secret", err, tt.wantErr)
			}
		})
	}
}

func TestCheckoutSSH(t *testing.T) {
	git := testenv.LookTool(t, "git")
	_ = git
	plainKey, plainPub := testenv.SSHKeyPair(t, "")
	const passphrase = "correct horse battery"
	encKey, encPub := testenv.SSHKeyPair(t, passphrase)
	strangerKey, _ := testenv.SSHKeyPair(t, "")
	addr, knownHosts := testenv.SSHServer(t, append(append([]byte{}, plainPub...), encPub...))

	dir, sha := testenv.GitRepo(t, map[string]string{"play.yml": "- hosts: all\n"})
	repoURL := "ssh://root@" + addr + dir

	// A known_hosts file with another key for the same address.
	_, otherHostPub := testenv.SSHKeyPair(t, "")
	wrongKnownHosts := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(wrongKnownHosts, []byte(testenv.KnownHostsLine(t, addr, otherHostPub)), 0o600); err != nil {
		t.Fatal(err)
	}
	emptyKnownHosts := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(emptyKnownHosts, nil, 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		auth    gitcache.Auth
		wantErr error
		wantMsg string
		secret  string
	}{
		{name: "key", auth: gitcache.Auth{SSHKey: plainKey, KnownHostsFile: knownHosts}},
		{name: "key with passphrase", auth: gitcache.Auth{SSHKey: encKey, SSHPassphrase: passphrase, KnownHostsFile: knownHosts}},
		{name: "insecure ignore host key", auth: gitcache.Auth{SSHKey: plainKey, InsecureIgnoreHostKey: true, KnownHostsFile: wrongKnownHosts}},
		{name: "host key mismatch", auth: gitcache.Auth{SSHKey: plainKey, KnownHostsFile: wrongKnownHosts}, wantErr: gitcache.ErrHostKey, wantMsg: "host key mismatch"},
		{name: "unknown host", auth: gitcache.Auth{SSHKey: plainKey, KnownHostsFile: emptyKnownHosts}, wantErr: gitcache.ErrHostKey, wantMsg: "not in known_hosts"},
		{name: "missing known_hosts", auth: gitcache.Auth{SSHKey: plainKey, KnownHostsFile: filepath.Join(t.TempDir(), "nope")}, wantErr: gitcache.ErrHostKey, wantMsg: "does not exist"},
		{name: "wrong passphrase", auth: gitcache.Auth{SSHKey: encKey, SSHPassphrase: "wrong-passphrase-42", KnownHostsFile: knownHosts}, wantErr: gitcache.ErrAuth, wantMsg: "wrong passphrase", secret: "wrong-passphrase-42"},
		{name: "missing passphrase", auth: gitcache.Auth{SSHKey: encKey, KnownHostsFile: knownHosts}, wantErr: gitcache.ErrAuth, wantMsg: "no passphrase"},
		{name: "key not authorized", auth: gitcache.Auth{SSHKey: strangerKey, KnownHostsFile: knownHosts}, wantErr: gitcache.ErrAuth},
		{name: "no key", auth: gitcache.Auth{KnownHostsFile: knownHosts}, wantErr: gitcache.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs testenv.LockedBuffer
			c := gitcache.New(t.TempDir(), gitcache.Options{Logger: newLogger(&logs)})
			dst := filepath.Join(t.TempDir(), "work")
			got, err := c.Checkout(context.Background(), repoURL, tt.auth, sha, "", dst)
			if tt.wantErr == nil {
				if err != nil || got.SHA != sha {
					t.Fatalf("Checkout: got %+v, %v; want %s", got, err, sha)
				}
				equalTrees(t, readTree(t, dst), map[string]string{"play.yml": "- hosts: all\n"})
				return
			}
			t.Logf("error: %v", err)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("got error %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not say %q", err, tt.wantMsg)
			}
			if gitcache.IsTransient(err) {
				t.Errorf("IsTransient(%v): got true, want false", err)
			}
			if strings.Contains(err.Error(), "PRIVATE KEY") || (tt.secret != "" && (strings.Contains(err.Error(), tt.secret) || strings.Contains(logs.String(), tt.secret))) {
				t.Errorf("error or logs leak a secret: %q", err)
			}
		})
	}

	t.Run("branch head over ssh", func(t *testing.T) {
		c := gitcache.New(t.TempDir(), gitcache.Options{})
		got, err := c.Resolve(context.Background(), repoURL, gitcache.Auth{SSHKey: plainKey, KnownHostsFile: knownHosts}, "")
		if err != nil || got.SHA != sha {
			t.Fatalf("Resolve: got %+v, %v; want %s", got, err, sha)
		}
	})
}
