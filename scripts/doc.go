// Package scripts holds no Go code: its tests check the shell scripts of
// this directory (what scripts/deps installs, and that it starts no
// service) without changing the machine.
package scripts
