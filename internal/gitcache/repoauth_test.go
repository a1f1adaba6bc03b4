package gitcache_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/gitcache"
)

func TestRepositoryAuth(t *testing.T) {
	sec := func(name string) *config.Secret { return &config.Secret{Env: name} }
	p := &config.Project{Keys: map[string]*config.Key{
		"ssh":   {Name: "ssh", Type: config.KeySSH, PrivateKey: sec("PEM"), User: "deploy", KnownHosts: "/kh"},
		"login": {Name: "login", Type: config.KeyLoginPassword, Login: "bot", Password: sec("PW")},
		"token": {Name: "token", Type: config.KeyToken, Token: sec("TOKEN")},
		"bad":   {Name: "bad", Type: config.KeyToken, Token: sec("MISSING")},
	}}
	resolve := func(what string, s *config.Secret) (string, error) {
		if s == nil {
			return "", nil
		}
		if s.Env == "MISSING" {
			return "", errors.New("resolve " + what + ": not set")
		}
		return "value of " + s.Env, nil
	}
	tests := []struct {
		key     string
		want    gitcache.Auth
		wantErr string
	}{
		{"", gitcache.Auth{}, ""},
		{"ssh", gitcache.Auth{SSHKey: []byte("value of PEM"), SSHUser: "deploy", KnownHostsFile: "/kh"}, ""},
		{"login", gitcache.Auth{Username: "bot", Password: "value of PW"}, ""},
		{"token", gitcache.Auth{Token: "value of TOKEN"}, ""},
		{"bad", gitcache.Auth{}, "resolve token of key bad: not set"},
		{"undeclared", gitcache.Auth{}, "key undeclared of repository site is not declared"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			got, err := gitcache.RepositoryAuth(p, &config.Repository{Name: "site", Key: tt.key}, resolve)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
