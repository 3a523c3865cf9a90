/*
 * embed: writes a C file defining a byte array with the contents of a file, so the chat
 * page is compiled into chatd. Usage: embed INPUT SYMBOL > OUTPUT.c
 * A build tool only: it never links into the daemon.
 */
#include <stdio.h>

int main(int argc, char **argv)
{
	FILE *in;
	int c;
	size_t n = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: embed INPUT SYMBOL\n");
		return 2;
	}
	in = fopen(argv[1], "rb");
	if (in == NULL) {
		perror(argv[1]);
		return 1;
	}
	printf("/* Generated from %s by tools/embed.c; do not edit. */\n", argv[1]);
	printf("#include <stddef.h>\n\nconst unsigned char %s[] = {", argv[2]);
	while ((c = getc(in)) != EOF) {
		printf("%s0x%02x,", n % 16 == 0 ? "\n\t" : " ", c);
		n++;
	}
	printf("\n\t0x00\n};\nconst size_t %s_len = %zu;\n", argv[2], n);
	if (ferror(in)) {
		perror(argv[1]);
		return 1;
	}
	fclose(in);
	return 0;
}
