package gitcache

import (
	"fmt"

	"github.com/semaphored/semaphored/internal/config"
)

// RepositoryAuth returns the credentials of the key of repository repo in
// project p; a repository with no key needs none. Each secret of the key
// goes through resolve, with what naming it for errors ("password of key
// deploy"); resolve answers "" for a nil reference.
func RepositoryAuth(p *config.Project, repo *config.Repository, resolve func(what string, s *config.Secret) (string, error)) (Auth, error) {
	var auth Auth
	if repo.Key == "" {
		return auth, nil
	}
	k := p.Keys[repo.Key]
	if k == nil {
		return auth, fmt.Errorf("key %s of repository %s is not declared", repo.Key, repo.Name)
	}
	var err error
	switch k.Type {
	case config.KeySSH:
		var key string
		if key, err = resolve("private_key of key "+k.Name, k.PrivateKey); err != nil {
			return auth, err
		}
		auth.SSHKey = []byte(key)
		if auth.SSHPassphrase, err = resolve("passphrase of key "+k.Name, k.Passphrase); err != nil {
			return auth, err
		}
		auth.SSHUser = k.User
		auth.KnownHostsFile = k.KnownHosts
		auth.InsecureIgnoreHostKey = k.InsecureIgnoreHostKey
	case config.KeyLoginPassword:
		auth.Username = k.Login
		auth.Password, err = resolve("password of key "+k.Name, k.Password)
	case config.KeyToken:
		auth.Token, err = resolve("token of key "+k.Name, k.Token)
	}
	return auth, err
}
