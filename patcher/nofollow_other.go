//go:build !unix

package patcher

const (
	openNoFollow = 0
	openNonBlock = 0
)
