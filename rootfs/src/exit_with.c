/*
 * exit_with: exits with the status given as argv[1] (default 0), after
 * printing it, so a test can check exit status propagation.
 * With argv[2] == "_exit" it leaves through _exit() instead of exit().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int status = argc > 1 ? atoi(argv[1]) : 0;

	printf("exit_with %d\n", status);
	if (argc > 2 && strcmp(argv[2], "_exit") == 0) {
		fflush(stdout);
		_exit(status);
	}
	exit(status);
}
