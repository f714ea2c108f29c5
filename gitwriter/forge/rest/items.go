package rest

import "fmt"

// MaxItems bounds the items a listing collects, whatever the page size a
// server chose: MaxPages pages of 100.
const MaxItems = MaxPages * 100

// Items fails a listing that collected more than MaxItems items.
func Items(n int) error {
	if n > MaxItems {
		return fmt.Errorf("more than %d items: refusing an unbounded listing", MaxItems)
	}
	return nil
}
