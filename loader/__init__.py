"""Loading a repo: its files, config, personas, knowledge, simulated users and
persona tests, each problem located as ``path:line:col``; the parse cache that
keeps a loaded file until its bytes change."""
