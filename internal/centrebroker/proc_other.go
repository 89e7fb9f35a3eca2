//go:build !linux

package centrebroker

import "syscall"

func childAttr() *syscall.SysProcAttr { return nil }
