package policy

import "strings"

// decimal is an exact base-10 number, so that numerical policies order
// 20-digit build numbers and long decimals without float rounding.
type decimal struct {
	neg  bool
	intg string // digits without leading zeros; "" for zero
	frac string // digits without trailing zeros
}

// parseDecimal accepts an optional "-" then digits, optionally followed by
// "." and digits: "42", "007", "1.50", "-3".
func parseDecimal(s string) (decimal, bool) {
	var d decimal
	if strings.HasPrefix(s, "-") {
		d.neg = true
		s = s[1:]
	}
	intg, frac, hasDot := strings.Cut(s, ".")
	if intg == "" || !allDigits(intg) || hasDot && (frac == "" || !allDigits(frac)) {
		return decimal{}, false
	}
	d.intg = strings.TrimLeft(intg, "0")
	d.frac = strings.TrimRight(frac, "0")
	if d.intg == "" && d.frac == "" {
		d.neg = false // -0 is 0
	}
	return d, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// cmp returns -1, 0 or 1 as d is less than, equal to or greater than e.
func (d decimal) cmp(e decimal) int {
	if d.neg != e.neg {
		if d.neg {
			return -1
		}
		return 1
	}
	c := d.cmpAbs(e)
	if d.neg {
		return -c
	}
	return c
}

func (d decimal) cmpAbs(e decimal) int {
	if len(d.intg) != len(e.intg) {
		if len(d.intg) < len(e.intg) {
			return -1
		}
		return 1
	}
	if c := strings.Compare(d.intg, e.intg); c != 0 {
		return c
	}
	// Without trailing zeros, fractions order as strings do: "5" > "45".
	return strings.Compare(d.frac, e.frac)
}
