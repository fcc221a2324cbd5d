package inspectweb

import (
	"net/http"
	"strconv"
)

// The writes: each runs behind server.write, which checks the request's
// origin and token, and then shows the workflow it acted on.

// cancel cancels a workflow and its children.
func (s *server) cancel(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := s.c.Cancel(r.Context(), id); err != nil {
		s.failErr(w, r, err)
		return
	}
	http.Redirect(w, r, wfPath(id), http.StatusSeeOther)
}

// resume makes a stopped workflow run again.
func (s *server) resume(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := s.c.Resume(r.Context(), id); err != nil {
		s.failErr(w, r, err)
		return
	}
	http.Redirect(w, r, wfPath(id), http.StatusSeeOther)
}

// fork starts a new workflow from a workflow's steps before the form's
// from_step, and shows the fork.
func (s *server) fork(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	from, err := strconv.Atoi(r.PostFormValue("from_step"))
	if err != nil {
		s.fail(w, r, http.StatusBadRequest, "from_step must be a step number, from 1")
		return
	}
	forked, err := s.c.Fork(r.Context(), id, from)
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	http.Redirect(w, r, wfPath(forked), http.StatusSeeOther)
}
