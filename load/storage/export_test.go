package storage

// BucketRegion exposes bucketRegion to the external tests.
var BucketRegion = bucketRegion
