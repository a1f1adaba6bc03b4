package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
)

// precheckStateFile reads the two meta pages of a BoltDB file and refuses
// a file whose valid meta pages claim pages beyond its end. bbolt maps the
// file and would fault (SIGBUS, not an error) reading such a page, so a
// truncated backup must be refused before the store opens it. It checks
// the on-disk format only (bbolt's meta page: magic, version 2, page size,
// high-water mark, FNV-64a checksum); the full consistency check runs once
// the file is open.
func precheckStateFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	var valid int
	var first error
	// Meta page 0 is at offset 0; page 1 at offset pageSize, read from
	// page 0 when it is valid, else tried at the usual page sizes.
	offsets := []int64{0}
	m0, err := readMeta(f, 0)
	if err == nil {
		offsets = append(offsets, int64(m0.pageSize))
	} else {
		first = err
		offsets = append(offsets, 4096, 8192, 16384, 65536)
	}
	for _, off := range offsets {
		m, err := readMeta(f, off)
		if err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		valid++
		if need := int64(m.hwm) * int64(m.pageSize); need > size {
			return fmt.Errorf("file is truncated: its meta page (transaction %d) needs %d bytes, the file has %d", m.txid, need, size)
		}
		if off > 0 && valid >= 2 {
			break
		}
	}
	if valid == 0 {
		return fmt.Errorf("not a BoltDB file: %w", first)
	}
	return nil
}

type boltMeta struct {
	pageSize uint32
	hwm      uint64
	txid     uint64
}

// Offsets in a meta page: a 16-byte page header, then the meta fields.
const (
	metaStart    = 16
	metaSumLen   = 56 // magic .. txid: the bytes the checksum covers
	metaLen      = metaSumLen + 8
	boltMagic    = 0xED0CDAED
	boltVersion  = 2
	minPageSize  = 512
	maxPageSize  = 1 << 20
	errShortMeta = "meta page at offset %d is cut short"
)

func readMeta(r io.ReaderAt, off int64) (boltMeta, error) {
	var buf [metaStart + metaLen]byte
	if _, err := r.ReadAt(buf[:], off); err != nil {
		return boltMeta{}, fmt.Errorf(errShortMeta, off)
	}
	b := buf[metaStart:]
	le := binary.NativeEndian
	if le.Uint32(b[0:]) != boltMagic {
		return boltMeta{}, errors.New("no BoltDB magic number")
	}
	if v := le.Uint32(b[4:]); v != boltVersion {
		return boltMeta{}, fmt.Errorf("BoltDB format version %d, want %d", v, boltVersion)
	}
	h := fnv.New64a()
	h.Write(b[:metaSumLen])
	if h.Sum64() != le.Uint64(b[metaSumLen:]) {
		return boltMeta{}, fmt.Errorf("meta page at offset %d fails its checksum", off)
	}
	m := boltMeta{pageSize: le.Uint32(b[8:]), hwm: le.Uint64(b[40:]), txid: le.Uint64(b[48:])}
	if m.pageSize < minPageSize || m.pageSize > maxPageSize {
		return boltMeta{}, fmt.Errorf("implausible page size %d", m.pageSize)
	}
	root, freelist := le.Uint64(b[16:]), le.Uint64(b[32:])
	if root >= m.hwm || (freelist >= m.hwm && freelist != ^uint64(0)) {
		return boltMeta{}, fmt.Errorf("meta page at offset %d points past its high-water mark", off)
	}
	return m, nil
}
