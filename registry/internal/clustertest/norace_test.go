//go:build !race

package clustertest

const raceOn = false
