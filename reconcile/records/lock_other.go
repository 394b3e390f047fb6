//go:build !unix

package records

import "os"

func tryLock(*os.File) (bool, error) { return false, ErrLockUnsupported }

func unlock(*os.File) error { return nil }
