/**
 * @file top.h  `lowbridge top`: the operator's console in a terminal
 * (ncurses), a client of the bridge's HTTP API like the web console.
 *
 * Threads: the command's, one (libre's re_main).
 */
#ifndef LB_TOP_H
#define LB_TOP_H

/**
 * Run the console until the operator quits (q, Ctrl-C).
 *
 *   lowbridge top [--http ADDR:PORT] [--room ID] [--user NAME]
 *
 * argv holds the options only (no command name). The password of --user
 * comes from LOWBRIDGE_PASSWORD, else from the terminal without echo.
 *
 * @return the process's exit status: 0, 1 on failure (no terminal,
 *         wrong password, no such room), 2 on bad usage
 */
int cli_top(int argc, char *argv[]);

#endif
