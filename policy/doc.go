// Package policy picks the tag an image policy allows from a list of tags.
// It is pure: strings in, a tag and the reasons for every other tag out.
package policy
