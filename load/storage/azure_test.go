package storage_test

import (
	"fmt"
	"testing"

	"github.com/chatlake/chatlake/load/storage"
	"github.com/chatlake/chatlake/load/storage/storagetest"
)

func TestAzure(t *testing.T) {
	_, client := storagetest.StartAzurite(t, "lake")
	n := 0
	storagetest.Run(t, func(t *testing.T) storage.Store {
		n++ // each subtest gets its own prefix in the one container
		return storage.NewAzure(client, "lake", fmt.Sprintf("runs/%d/", n))
	})
}
