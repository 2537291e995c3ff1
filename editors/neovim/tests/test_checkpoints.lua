local H = dofile(vim.fn.fnamemodify(debug.getinfo(1, "S").source:sub(2), ":h") .. "/helpers.lua")
H.run(function()
  local codelab = H.setup({
    { chunks = { { toolCall = { id = "w1", name = "write_file", arguments = { path = "NOTES.md", content = "# Notes\nby the agent\n" } } } } },
    { chunks = { { text = "Wrote it." } } },
    { chunks = { { text = "Second answer." } } },
    { chunks = { { text = "Summary: the user asked for notes; NOTES.md was written." } } },
  }, { agent = "coder" })
  vim.fn.writefile({ "# Notes" }, H.ws .. "/NOTES.md")
  local prompts = {}
  H.answer_select(function(items, opts)
    table.insert(prompts, opts.prompt or "")
    if (opts.prompt or ""):find("Changed since", 1, true) then return "Overwrite them" end
    return items[1]
  end)
  codelab.send("write the notes")
  H.wait_chat("Wrote it.")
  H.wait_chat("Δ modified NOTES.md +1 -0")
  local st = codelab.state()
  -- The winbar shows the context used and the session's cost.
  H.wait(function() return vim.wo[st.win].winbar:find("ctx ", 1, true) ~= nil end, "the winbar to show the context")
  H.truthy(vim.wo[st.win].winbar:find("$", 1, true), "and the cost: " .. vim.wo[st.win].winbar)
  codelab.send("and a second question")
  H.wait_chat("Second answer.")
  H.wait(function() return st.turn == nil end, "the second turn to end")
  vim.cmd("CodelabCompact")
  H.wait_chat("context compacted (summarised)")
  -- The user changes the file after the agent: restoring asks, and overwrites.
  vim.fn.writefile({ "# Notes", "the user's line" }, H.ws .. "/NOTES.md")
  local done
  codelab.checkpoints(function(r) done = r end)
  H.wait(function() return done ~= nil end, "the restore")
  H.eq({ "# Notes" }, vim.fn.readfile(H.ws .. "/NOTES.md"), "NOTES.md is as before the turn")
  H.truthy(vim.tbl_contains(vim.tbl_map(function(p) return p:sub(1, 13) end, prompts), "Changed since"),
    "the conflict was asked about: " .. vim.inspect(prompts))
end)
