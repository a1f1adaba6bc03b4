package runner

func (r *run) ansible() Result { return *errResult(errTODOAnsible) }
