package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
)

const (
	checkpointName = "release.ckpt"
	checkpointSize = 20 // magic[8] release:u64 crc:u32
)

var checkpointMagic = [8]byte{'C', 'W', 'R', 'E', 'L', 'E', 'A', 1}

func encodeCheckpoint(release uint64) []byte {
	b := make([]byte, checkpointSize)
	copy(b, checkpointMagic[:])
	binary.LittleEndian.PutUint64(b[8:16], release)
	binary.LittleEndian.PutUint32(b[16:20], crc32.Checksum(b[:16], castagnoli))
	return b
}

// errBadCheckpoint means the file exists but does not check out.
var errBadCheckpoint = errors.New("bad checkpoint")

// readCheckpoint returns the persisted release point, 0 if there is none.
func readCheckpoint(fsys FS, path string) (uint64, error) {
	b, err := fsys.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("spool: read %s: %w", path, err)
	}
	if len(b) != checkpointSize || [8]byte(b[:8]) != checkpointMagic ||
		crc32.Checksum(b[:16], castagnoli) != binary.LittleEndian.Uint32(b[16:20]) {
		return 0, fmt.Errorf("spool: %s: %w", path, errBadCheckpoint)
	}
	return binary.LittleEndian.Uint64(b[8:16]), nil
}
