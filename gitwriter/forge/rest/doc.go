// Package rest is what the forge clients share about speaking HTTP to a
// forge's API: their options, reading how long a rate limit asks to wait,
// bounded pagination and a sleep that ends with its context. It is apart
// from package forge, which config imports and which does no network I/O.
//
// Sleep repeats gitwriter/pullrequest's on purpose: the lifecycle must not
// import this package (it links net/http), nor this one the lifecycle's
// unexported helper.
package rest
