package web

import "testing/fstest"

func mapFS(y string) fstest.MapFS { return fstest.MapFS{"web.yaml": {Data: []byte(y)}} }
