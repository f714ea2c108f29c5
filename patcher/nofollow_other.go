//go:build !unix

package patcher

const syscallNoFollow = 0
