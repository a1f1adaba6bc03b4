package api

// SetListBuffer sets how much of a task list page h encodes before it
// streams instead, so tests reach the streamed path with small tasks.
func SetListBuffer(h *Handler, n int) { h.listBuffer = n }
