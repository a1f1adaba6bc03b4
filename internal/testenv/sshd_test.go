package testenv_test

import (
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/semaphored/semaphored/internal/testenv"
)

func TestSSHKeyPair(t *testing.T) {
	for _, passphrase := range []string{"", "pass phrase"} {
		t.Run("passphrase="+passphrase, func(t *testing.T) {
			priv, pub := testenv.SSHKeyPair(t, passphrase)
			if !strings.Contains(string(priv), "BEGIN OPENSSH PRIVATE KEY") {
				t.Errorf("private key is not OpenSSH PEM:\n%s", priv)
			}
			var signer ssh.Signer
			var err error
			if passphrase == "" {
				signer, err = ssh.ParsePrivateKey(priv)
			} else {
				if _, err := ssh.ParsePrivateKey(priv); err == nil {
					t.Errorf("encrypted key parsed without a passphrase")
				}
				signer, err = ssh.ParsePrivateKeyWithPassphrase(priv, []byte(passphrase))
			}
			if err != nil {
				t.Fatalf("parse private key: %v", err)
			}
			if got, want := string(ssh.MarshalAuthorizedKey(signer.PublicKey())), string(pub); got != want {
				t.Errorf("public key: got %q, want %q", got, want)
			}
		})
	}
}

func TestSSHServer(t *testing.T) {
	priv, pub := testenv.SSHKeyPair(t, "")
	addr, knownHostsFile := testenv.SSHServer(t, pub)
	signer, err := ssh.ParsePrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	hostKeys, err := knownhosts.New(knownHostsFile)
	if err != nil {
		t.Fatalf("known_hosts: %v", err)
	}
	client, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{
		User:            "root",
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: hostKeys,
	})
	if err != nil {
		t.Fatalf("ssh dial %s: %v", addr, err)
	}
	defer client.Close()
	sess, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	out, err := sess.Output("git --version")
	if err != nil || !strings.HasPrefix(string(out), "git version") {
		t.Errorf("git --version over ssh: got %q, %v; want git version ...", out, err)
	}

	// Another key is refused.
	otherPriv, _ := testenv.SSHKeyPair(t, "")
	other, err := ssh.ParsePrivateKey(otherPriv)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{User: "root", Auth: []ssh.AuthMethod{ssh.PublicKeys(other)}, HostKeyCallback: hostKeys}); err == nil {
		c.Close()
		t.Errorf("ssh dial with an unauthorized key: got success, want refusal")
	}
}
