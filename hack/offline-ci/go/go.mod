// The small programs the offline kind node image needs and cannot pull: stdlib only, so they build without a
// module download.
module mec-testbed.local/offline-ci

go 1.24
