package testenv

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// sshdPath is where Debian's openssh-server installs the daemon.
const sshdPath = "/usr/sbin/sshd"

// SSHKeyPair generates an ed25519 key pair and returns the private key in
// OpenSSH PEM form (encrypted with passphrase when it is not empty) and the
// public key in authorized_keys form.
func SSHKeyPair(t testing.TB, passphrase string) (privatePEM, authorizedKey []byte) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("generate ed25519 key: %v", err)
	}
	var block *pem.Block
	if passphrase == "" {
		block, err = ssh.MarshalPrivateKey(priv, "semaphored test key")
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, "semaphored test key", []byte(passphrase))
	}
	if err != nil {
		t.Fatalf("marshal private key: %v", err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatalf("ssh public key: %v", err)
	}
	return pem.EncodeToMemory(block), ssh.MarshalAuthorizedKey(sshPub)
}

// KnownHostsLine returns a known_hosts line binding addr (host:port) to the
// public key in authorized_keys form.
func KnownHostsLine(t testing.TB, addr string, authorizedKey []byte) string {
	t.Helper()
	pub, _, _, _, err := ssh.ParseAuthorizedKey(authorizedKey)
	if err != nil {
		t.Fatalf("parse public key: %v", err)
	}
	return knownhosts.Line([]string{knownhosts.Normalize(addr)}, pub) + "\n"
}

// SSHServer starts the real sshd on a free loopback port with its own
// ed25519 host key, accepting only authorizedKey (for any user, root
// included) and running commands with the login shell, so git over ssh
// works for repositories addressed by absolute path. It returns the
// address (127.0.0.1:PORT) and a known_hosts file that trusts the host
// key. The daemon is killed when the test ends. Missing sshd: skip, or
// fail under Required.
func SSHServer(t testing.TB, authorizedKey []byte) (addr string, knownHostsFile string) {
	t.Helper()
	if fi, err := os.Stat(sshdPath); err != nil || fi.Mode()&0o111 == 0 {
		if Required() {
			t.Fatalf("%s not found; apt-get install openssh-server", sshdPath)
		}
		t.Skipf("%s not found; apt-get install openssh-server", sshdPath)
	}
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatalf("mkdir /run/sshd: %v", err)
	}
	dir := t.TempDir()
	hostPEM, hostPub := SSHKeyPair(t, "")
	hostKey := filepath.Join(dir, "ssh_host_ed25519_key")
	authKeys := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(hostKey, hostPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(authKeys, authorizedKey, 0o600); err != nil {
		t.Fatal(err)
	}

	// A port picked by the kernel can be taken again before sshd binds it:
	// try a few.
	var lastErr error
	for range 5 {
		port, err := freePort()
		if err != nil {
			t.Fatalf("free port: %v", err)
		}
		addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if lastErr = startSSHD(t, dir, hostKey, authKeys, port, addr); lastErr == nil {
			knownHostsFile = filepath.Join(dir, "known_hosts")
			if err := os.WriteFile(knownHostsFile, []byte(KnownHostsLine(t, addr, hostPub)), 0o600); err != nil {
				t.Fatal(err)
			}
			return addr, knownHostsFile
		}
	}
	t.Fatalf("start sshd: %v", lastErr)
	return "", ""
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func startSSHD(t testing.TB, dir, hostKey, authKeys string, port int, addr string) error {
	t.Helper()
	config := filepath.Join(dir, "sshd_config")
	conf := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
PidFile none
AuthorizedKeysFile %s
StrictModes no
UsePAM no
PermitRootLogin yes
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
AllowTcpForwarding no
X11Forwarding no
PrintMotd no
LogLevel VERBOSE
`, port, hostKey, authKeys)
	if err := os.WriteFile(config, []byte(conf), 0o600); err != nil {
		return err
	}
	out := &LockedBuffer{}
	cmd := exec.Command(sshdPath, "-D", "-e", "-f", config)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", sshdPath, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
	}

	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case err := <-exited:
			exited <- err
			return fmt.Errorf("sshd exited: %v\n%s", err, out.String())
		default:
		}
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			break
		}
		if time.Now().After(deadline) {
			stop()
			return fmt.Errorf("sshd on %s not accepting after 10s: %v\n%s", addr, err, out.String())
		}
		select {
		case err := <-exited:
			exited <- err
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("sshd output:\n%s", out.String())
		}
	})
	return nil
}
