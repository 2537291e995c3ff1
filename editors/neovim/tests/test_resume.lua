local H = dofile(vim.fn.fnamemodify(debug.getinfo(1, "S").source:sub(2), ":h") .. "/helpers.lua")
H.run(function()
  local codelab = H.setup({
    { chunks = { { text = "Remember the number 42." } } },
  })
  codelab.send("tell me a number")
  H.wait_chat("— end_turn")
  local st = codelab.state()
  local session = st.session
  local old = vim.lsp.get_client_by_id(st.client_id)
  codelab.stop()
  H.wait(function() return old:is_stopped() end, "the server to stop")
  -- The old client's on_exit (which clears the plugin's client id) must have
  -- run before a new client starts, or it would clear the new one's: wait
  -- until Neovim has dropped the old client, which it does after on_exit.
  H.wait(function() return vim.lsp.get_client_by_id(old.id) == nil end, "the old client to be gone")
  st.session = nil
  vim.bo[st.chat].modifiable = true
  vim.api.nvim_buf_set_lines(st.chat, 0, -1, false, {})
  vim.bo[st.chat].modifiable = false
  -- A new connection (a new `codelab-agent --stdio`, to the same daemon);
  -- resume from :CodelabSessions.
  H.answer_select(function(items)
    if type(items[1]) == "table" then
      for _, s in ipairs(items) do
        if s.id == session then return s end
      end
    end
    return "Resume"
  end)
  vim.cmd("CodelabSessions")
  H.wait_chat("Remember the number 42.")
  H.truthy(H.chat():find("tell me a number", 1, true), "the history was replayed")
  H.eq(session, codelab.state().session, "the same session")
end)
