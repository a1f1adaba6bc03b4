package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"filippo.io/age/armor"
)

func encryptArmored(t *testing.T, plaintext string, r age.Recipient) string {
	t.Helper()
	var buf bytes.Buffer
	aw := armor.NewWriter(&buf)
	w, err := age.Encrypt(aw, r)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte(plaintext)); err != nil {
		t.Fatal(err)
	}
	must(t, w.Close())
	must(t, aw.Close())
	return buf.String()
}

func TestResolve(t *testing.T) {
	const value = "s3cr3t-value-XYZ"
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	other, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	withNL := filepath.Join(dir, "with-newline")
	must(t, os.WriteFile(withNL, []byte(value+"\n"), 0o600))
	twoNL := filepath.Join(dir, "two-newlines")
	must(t, os.WriteFile(twoNL, []byte(value+"\n\n"), 0o600))
	noNL := filepath.Join(dir, "no-newline")
	must(t, os.WriteFile(noNL, []byte(value), 0o600))
	unreadable := filepath.Join(dir, "dir-not-file")
	must(t, os.Mkdir(unreadable, 0o700))
	env := map[string]string{"PRESENT": value, "EMPTY": ""}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	armored := encryptArmored(t, value, id.Recipient())

	tests := []struct {
		name    string
		r       *Resolver
		s       Secret
		want    string
		wantErr error  // errors.Is target, when set
		errHas  string // substring of the error
	}{
		{"env", &Resolver{LookupEnv: lookup}, Secret{Env: "PRESENT"}, value, nil, ""},
		{"env empty is a value", &Resolver{LookupEnv: lookup}, Secret{Env: "EMPTY"}, "", nil, ""},
		{"env missing", &Resolver{LookupEnv: lookup}, Secret{Env: "ABSENT"}, "", ErrEnvNotSet, "env:ABSENT"},
		{"file trims one newline", &Resolver{}, Secret{File: withNL}, value, nil, ""},
		{"file trims only one newline", &Resolver{}, Secret{File: twoNL}, value + "\n", nil, ""},
		{"file without newline", &Resolver{}, Secret{File: noNL}, value, nil, ""},
		{"file missing", &Resolver{}, Secret{File: filepath.Join(dir, "nope")}, "", fs.ErrNotExist, "nope"},
		{"file unreadable", &Resolver{}, Secret{File: unreadable}, "", nil, "dir-not-file"},
		{"age", &Resolver{Identities: []age.Identity{other, id}}, Secret{Age: armored}, value, nil, ""},
		{"age without identity", &Resolver{}, Secret{Age: armored}, "", ErrNoAgeIdentity, "age:"},
		{"age wrong identity", &Resolver{Identities: []age.Identity{other}}, Secret{Age: armored}, "", ErrAgeNoMatch, "age:"},
		{"age garbage", &Resolver{Identities: []age.Identity{id}}, Secret{Age: "-----BEGIN AGE ENCRYPTED FILE-----\nAAAA\n-----END AGE ENCRYPTED FILE-----\n"}, "", nil, "decrypt"},
		{"empty", &Resolver{}, Secret{}, "", ErrEmptySecret, ""},
		{"nil resolver uses the process", nil, Secret{File: noNL}, value, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.r.Resolve(tt.s)
			if tt.wantErr == nil && tt.errHas == "" {
				if err != nil {
					t.Fatalf("Resolve: got error %v, want %q", err, tt.want)
				}
				if got != tt.want {
					t.Errorf("Resolve: got %q, want %q", got, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Resolve: got %q and no error, want an error", got)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("Resolve: got %v, want errors.Is %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.errHas) {
				t.Errorf("Resolve: got %q, want it to name %q", err, tt.errHas)
			}
			if strings.Contains(err.Error(), value) {
				t.Errorf("Resolve error leaks the value: %q", err)
			}
			if got != "" {
				t.Errorf("Resolve: got value %q with an error, want none", got)
			}
		})
	}
}

func TestSecretPrintsReferenceOnly(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	armored := encryptArmored(t, "plain-text-never-shown", id.Recipient())
	tests := []struct {
		s    Secret
		want string
	}{
		{Secret{Env: "DB_PASSWORD"}, "env:DB_PASSWORD"},
		{Secret{File: "/run/secrets/x"}, "file:/run/secrets/x"},
		{Secret{}, "<empty secret reference>"},
	}
	for _, tt := range tests {
		if got := tt.s.String(); got != tt.want {
			t.Errorf("String: got %q, want %q", got, tt.want)
		}
		for _, verb := range []string{"%v", "%+v", "%s"} {
			if got := fmt.Sprintf(verb, tt.s); got != tt.want {
				t.Errorf("Sprintf(%s): got %q, want %q", verb, got, tt.want)
			}
		}
		if got, want := fmt.Sprintf("%#v", tt.s), "config.Secret{"+tt.want+"}"; got != want {
			t.Errorf("Sprintf(%%#v): got %q, want %q", got, want)
		}
	}
	a := Secret{Age: armored}
	s := a.String()
	body := strings.TrimSpace(strings.TrimPrefix(armored, armor.Header))
	if want := "age:" + body[:12] + "…"; s != want {
		t.Errorf("age String: got %q, want %q", s, want)
	}
	// Nested in structs, pointers and maps, fmt still shows references.
	k := Key{Type: KeyToken, Token: &Secret{Env: "TOKEN"}}
	env := EnvironmentSecrets{Env: map[string]Secret{"A": {Env: "A_SRC"}}}
	for _, out := range []string{fmt.Sprintf("%v", *k.Token), fmt.Sprintf("%+v", env), fmt.Sprintf("%#v", env), fmt.Sprintf("%v", a)} {
		if strings.Contains(out, "plain-text-never-shown") || strings.Contains(out, armor.Header) {
			t.Errorf("formatted secret shows too much: %q", out)
		}
	}
	b, err := json.Marshal(Key{Type: KeyToken, Token: &Secret{Env: "TOKEN", Pos: Pos{File: "a.yaml", Line: 1, Col: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"name":"","type":"token","token":{"env":"TOKEN"}}`; got != want {
		t.Errorf("JSON: got %s, want %s", got, want)
	}
}

func TestLoadAgeIdentities(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "id.txt")
	must(t, os.WriteFile(good, []byte("# created: now\n# public key: "+id.Recipient().String()+"\n"+id.String()+"\n"), 0o600))
	bad := filepath.Join(dir, "bad.txt")
	must(t, os.WriteFile(bad, []byte("AGE-SECRET-KEY-1NOTREALLYAKEYBUTLOOKSLIKEONE\n"), 0o600))

	ids, err := LoadAgeIdentities(good)
	if err != nil {
		t.Fatalf("LoadAgeIdentities: %v", err)
	}
	r := &Resolver{Identities: ids}
	got, err := r.Resolve(Secret{Age: encryptArmored(t, "v", id.Recipient())})
	if err != nil || got != "v" {
		t.Errorf("Resolve with loaded identity: got %q, %v, want \"v\"", got, err)
	}
	if _, err := LoadAgeIdentities(bad); err == nil || strings.Contains(err.Error(), "NOTREALLY") {
		t.Errorf("LoadAgeIdentities(bad): got %v, want an error that does not quote the file", err)
	}
	for _, mode := range []os.FileMode{0o640, 0o604, 0o644, 0o620} {
		must(t, os.Chmod(good, mode))
		_, err := LoadAgeIdentities(good)
		if !errors.Is(err, ErrInsecureIdentityFile) || !strings.Contains(err.Error(), "chmod 600 "+good) {
			t.Errorf("LoadAgeIdentities(mode %04o): got %v, want ErrInsecureIdentityFile and how to fix it", mode, err)
		}
	}
	must(t, os.Chmod(good, 0o400))
	if _, err := LoadAgeIdentities(good); err != nil {
		t.Errorf("LoadAgeIdentities(mode 0400): %v", err)
	}
	if _, err := LoadAgeIdentities(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadAgeIdentities(missing): got %v, want ErrNotExist", err)
	}
}

// TestLoadErrorsNeverShowSecrets checks that a clear-text secret written by
// mistake is not echoed back in the error.
func TestLoadErrorsNeverShowSecrets(t *testing.T) {
	msg := loadErr(t, "testdata/bad/clear-text-secret", LoadOptions{})
	for _, v := range []string{"ghp_123456", "hunter2", "12345", "s3cret", "OPENSSH PRIVATE"} {
		if strings.Contains(msg, v) {
			t.Errorf("error shows the clear-text value %q:\n%s", v, msg)
		}
	}
}
