package runner

import "errors"

var errTODOAnsible = errors.New("ansible: not implemented yet")

func (r *run) terraform(bin string) Result {
	return *errResult(errors.New(bin + ": not implemented yet"))
}
