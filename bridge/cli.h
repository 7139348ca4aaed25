/**
 * @file cli.h  The clerk's subcommands of the lowbridge binary
 * (recordings, export, replay, minutes). Each returns the process's
 * exit status: 0, 1 on failure, 2 on bad usage.
 *
 * Threads: the command's, one.
 */
#ifndef LB_CLI_H
#define LB_CLI_H

int cli_recordings(int argc, char *argv[]);
int cli_export(int argc, char *argv[]);
int cli_minutes(int argc, char *argv[]);
int cli_replay(int argc, char *argv[]);
/** report sites|windows: readiness checks kept in the catalogue */
int cli_report(int argc, char *argv[]);

#endif
