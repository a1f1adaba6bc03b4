package notify

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/testenv"
)

// aiosmtpd starts Debian's python3-aiosmtpd on a loopback port, storing
// mail in a Maildir; with tls it requires STARTTLS with a certificate for
// 127.0.0.1 signed by the returned pool. Skips when it is not installed.
func aiosmtpd(t *testing.T, withTLS bool) (addr, maildir string, pool *x509.CertPool) {
	t.Helper()
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import aiosmtpd").Run(); err != nil {
		if testenv.Required() {
			t.Fatal("python3-aiosmtpd is not installed; run scripts/deps")
		}
		t.Skip("python3-aiosmtpd is not installed (scripts/deps installs it)")
	}
	dir := t.TempDir()
	maildir = filepath.Join(dir, "Maildir")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr = ln.Addr().String()
	ln.Close()
	args := []string{"-m", "aiosmtpd", "-n", "-l", addr, "-c", "aiosmtpd.handlers.Mailbox"}
	if withTLS {
		cert, key, p := selfSigned(t, dir)
		pool = p
		args = append(args, "--tlscert", cert, "--tlskey", key)
	} else {
		args = append(args, "--no-requiretls")
	}
	args = append(args, maildir)
	cmd := exec.Command(py, args...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return addr, maildir, pool
		}
		if time.Now().After(deadline) {
			t.Fatalf("aiosmtpd did not listen on %s", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	c, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(c)
	return certFile, keyFile, pool
}

func readMaildir(t *testing.T, maildir string) []string {
	t.Helper()
	entries, _ := os.ReadDir(filepath.Join(maildir, "new"))
	var out []string
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(maildir, "new", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

func TestEmailSTARTTLS(t *testing.T) {
	addr, maildir, pool := aiosmtpd(t, true)
	m := msg
	m.Summary = ".a line starting with a dot"
	err := Email(t.Context(), SMTP{
		Server: addr, From: "semaphored <ci@example.com>", To: []string{"ops@example.com", "Dev <dev@example.com>"},
		TLS: &tls.Config{RootCAs: pool},
	}, m)
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	mails := readMaildir(t, maildir)
	if len(mails) != 1 {
		t.Fatalf("%d messages in the Maildir, want 1", len(mails))
	}
	got := mails[0]
	for _, want := range []string{
		"From: \"semaphored\" <ci@example.com>", "To: <ops@example.com>, \"Dev\" <dev@example.com>",
		"Subject: =?utf-8?q?", "web/deploy_#42_failed", "\n.a line starting with a dot", msg.URL, "Auto-Submitted: auto-generated",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("message lacks %q:\n%s", want, got)
		}
	}

	// A certificate the client does not trust: final, nothing sent.
	err = Email(t.Context(), SMTP{Server: addr, From: "ci@example.com", To: []string{"ops@example.com"}}, msg)
	if err == nil {
		t.Fatal("an untrusted certificate was accepted")
	}
	if len(readMaildir(t, maildir)) != 1 {
		t.Errorf("a message went through an untrusted TLS session")
	}
}

func TestEmailRefusesPlaintext(t *testing.T) {
	addr, maildir, _ := aiosmtpd(t, false)
	err := Email(t.Context(), SMTP{Server: addr, From: "ci@example.com", To: []string{"ops@example.com"}}, msg)
	if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("got %v, want a refusal without STARTTLS", err)
	}
	if r, _ := err.(*Error).Retry(); r {
		t.Errorf("a server without STARTTLS is retryable; want final")
	}
	if n := len(readMaildir(t, maildir)); n != 0 {
		t.Errorf("%d messages sent in clear", n)
	}
	// Allowed explicitly (a local relay).
	if err := Email(t.Context(), SMTP{Server: addr, From: "ci@example.com", To: []string{"ops@example.com"}, InsecurePlaintext: true}, msg); err != nil {
		t.Fatalf("insecure_plaintext: %v", err)
	}
	if n := len(readMaildir(t, maildir)); n != 1 {
		t.Errorf("%d messages, want 1", n)
	}
}

func TestEmailDown(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	err := Email(t.Context(), SMTP{Server: addr, From: "ci@example.com", To: []string{"ops@example.com"}}, msg)
	if r, _ := err.(*Error).Retry(); !r {
		t.Errorf("got %v, want retryable", err)
	}
}
