package load

import "hash/fnv"

// keyHash is the hash of a message key: fnv-1a-64. A message's shard is keyHash mod the
// partition's shard count (shardOf), and Verify finds duplicate keys by it.
func keyHash(key string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(key))
	return h.Sum64()
}
