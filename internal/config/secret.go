package config

import "filippo.io/age"

// Secret is a reference to a secret value; exactly one field is set. The
// clear value is never held in a Config, never stored, and never printed:
// String and JSON show the reference only (an age value is ciphertext).
//
//	{env: NAME}   the daemon's environment variable NAME
//	{file: PATH}  the contents of PATH (one trailing newline trimmed);
//	              relative paths are relative to the daemon's working directory
//	{age: ARMOR}  an age-encrypted value ("-----BEGIN AGE ENCRYPTED FILE-----"),
//	              decrypted with the daemon's identity file (--age-identity)
type Secret struct {
	Env  string `yaml:"env" json:"env,omitempty"`
	File string `yaml:"file" json:"file,omitempty"`
	Age  string `yaml:"age" json:"age,omitempty"`

	Pos Pos `yaml:"-" json:"-"`
}

// Resolver turns secret references into clear values, at the moment a run
// needs them. The zero value resolves env and file references from the
// process; age references need Identities. Safe for concurrent use.
type Resolver struct {
	// Identities decrypt {age: ...} values (from the --age-identity file).
	Identities []age.Identity
	// LookupEnv defaults to os.LookupEnv.
	LookupEnv func(string) (string, bool)
}

// Resolve returns the clear value of s. Errors name the reference (the env
// variable or file) but never contain a value.
func (r *Resolver) Resolve(s Secret) (string, error) { return "", errTODO }
