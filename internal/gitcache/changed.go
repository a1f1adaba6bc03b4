package gitcache

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// ChangedPaths returns the sorted paths that differ between the merge base
// of from and to, and to: "git diff from...to --name-only". Each of from
// and to is a full commit SHA or a branch name; what the cache lacks is
// fetched. For a push, from is the commit before and to the one after (a
// fast-forward's merge base is from itself); for a pull request, from is
// the base branch (or its commit) and to the head commit. Renames are
// listed under both names.
func (c *Cache) ChangedPaths(ctx context.Context, url string, auth Auth, from, to string) ([]string, error) {
	r, err := parseRemote(url)
	if err != nil {
		return nil, newError("diff", Redact(url), nil, err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if r.kind == kindLocal {
		lr, plain, err := openLocal(r)
		if err == nil && plain {
			err = invalidf("%s is not a git repository: no history to diff", r.redacted)
		}
		if err != nil {
			return nil, wrapOp("diff", r, nil, err)
		}
		out, err := changedPaths(lr, func(rev string) (*object.Commit, error) {
			if isFullSHA(rev) {
				c, err := lr.CommitObject(plumbing.NewHash(rev))
				if errors.Is(err, plumbing.ErrObjectNotFound) {
					err = fmt.Errorf("commit %s %w in the repository", rev, ErrNotFound)
				}
				return c, err
			}
			return localBranchCommit(lr, rev)
		}, from, to)
		return out, wrapOp("diff", r, nil, err)
	}
	var out []string
	err = c.withRepo(ctx, "diff", r, auth, func(ctx context.Context, op *operation) error {
		var err error
		out, err = changedPaths(op.repo, func(rev string) (*object.Commit, error) {
			if isFullSHA(rev) {
				return op.commitBySHA(ctx, rev, "")
			}
			return op.fetchBranch(ctx, rev)
		}, from, to)
		return err
	})
	return out, err
}

func changedPaths(_ *git.Repository, get func(string) (*object.Commit, error), from, to string) ([]string, error) {
	if from == "" || to == "" {
		return nil, invalidf("diff needs two revisions, got %q and %q", from, to)
	}
	toC, err := get(to)
	if err != nil {
		return nil, err
	}
	fromC, err := get(from)
	if err != nil {
		return nil, err
	}
	bases, err := fromC.MergeBase(toC)
	if err != nil {
		return nil, fmt.Errorf("merge base of %s and %s: %w", from, to, err)
	}
	var baseTree *object.Tree
	if len(bases) > 0 {
		if baseTree, err = bases[0].Tree(); err != nil {
			return nil, &corruptError{fmt.Errorf("tree of %s: %w", bases[0].Hash, err)}
		}
	} else {
		// Unrelated histories: everything in to is a change.
		baseTree = &object.Tree{}
	}
	toTree, err := toC.Tree()
	if err != nil {
		return nil, &corruptError{fmt.Errorf("tree of %s: %w", toC.Hash, err)}
	}
	changes, err := object.DiffTree(baseTree, toTree)
	if err != nil {
		return nil, fmt.Errorf("diff %s...%s: %w", from, to, err)
	}
	seen := map[string]bool{}
	var out []string
	for _, ch := range changes {
		for _, n := range []string{ch.From.Name, ch.To.Name} {
			if n != "" && !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}
