local H = dofile(vim.fn.fnamemodify(debug.getinfo(1, "S").source:sub(2), ":h") .. "/helpers.lua")
H.run(function()
  local codelab = H.setup({
    { chunks = { { toolCall = { id = "w1", name = "write_file", arguments = { path = "Cargo.lock", content = "" } } } } },
    { match = "not the lockfile", chunks = { { text = "Understood, I leave the lockfile alone." } } },
  }, { agent = "coder" })
  H.answer_select(function(items) return items[4] end) -- Reject
  H.answer_input("not the lockfile")
  codelab.send("clean up")
  H.wait_chat("— end_turn")
  H.truthy(H.chat():find("approval reject", 1, true), "the rejection is shown")
  H.truthy(H.chat():find("I leave the lockfile alone", 1, true), "the feedback reached the model")
  H.eq(0, vim.fn.filereadable(H.ws .. "/Cargo.lock"), "nothing was written")
end)
