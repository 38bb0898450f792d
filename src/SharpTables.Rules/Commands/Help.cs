namespace SharpTables.Rules.Commands;

/// <summary>The usage text of <c>-h</c>, iptables' wording with our program name.</summary>
public static class Help
{
    /// <summary>The usage text; ip6tables has no <c>-f</c>.</summary>
    public static string Text(string prog, Model.Family family = Model.Family.IPv4) => $"""
{prog} {XtablesException.VersionTag}

Usage: {prog} -[ACD] chain rule-specification [options]
       {prog} -I chain [rulenum] rule-specification [options]
       {prog} -R chain rulenum rule-specification [options]
       {prog} -D chain rulenum [options]
       {prog} -[LS] [chain [rulenum]] [options]
       {prog} -[FZ] [chain] [options]
       {prog} -[NX] chain
       {prog} -E old-chain-name new-chain-name
       {prog} -P chain target [options]
       {prog} -h (print this help information)
       {prog} save [-c] [-t table]
       {prog} restore [-c] [-n] [-T table] [--test] [FILE]

Commands:
Either long or short options are allowed.
  --append  -A chain		Append to chain
  --check   -C chain		Check for the existence of a rule
  --delete  -D chain		Delete matching rule from chain
  --delete  -D chain rulenum
				Delete rule rulenum (1 = first) from chain
  --insert  -I chain [rulenum]
				Insert in chain as rulenum (default 1=first)
  --replace -R chain rulenum
				Replace rule rulenum (1 = first) in chain
  --list    -L [chain [rulenum]]
				List the rules in a chain or all chains
  --list-rules -S [chain [rulenum]]
				Print the rules in a chain or all chains
  --flush   -F [chain]		Delete all rules in  chain or all chains
  --zero    -Z [chain [rulenum]]
				Zero counters in chain or all chains
  --new     -N chain		Create a new user-defined chain
  --delete-chain
	    -X [chain]		Delete a user-defined chain
  --policy  -P chain target
				Change policy on chain to target
  --rename-chain
	    -E old-chain new-chain
				Change chain name, (moving any references)

Options:
[!] --proto	-p proto	protocol: by number or name, eg. `tcp'
[!] --source	-s address[/mask][...]
				source specification
[!] --destination -d address[/mask][...]
				destination specification
[!] --in-interface -i input name[+]
				network interface name ([+] for wildcard)
 --jump	-j target
				target for rule (may load target extension)
  --goto      -g chain
			       jump to chain with no return
  --match	-m match
				extended match (may load extension)
  --numeric	-n		numeric output of addresses and ports
[!] --out-interface -o output name[+]
				network interface name ([+] for wildcard)
  --table	-t table	table to manipulate (default: `filter')
  --verbose	-v		verbose mode
  --line-numbers		print line numbers when listing
  --exact	-x		expand numbers (display exact values)
{(family == Model.Family.IPv4 ? "[!] --fragment	-f		match second or further fragments only\n" : "")}  --set-counters -c PKTS BYTES	set the counter during insert/append
[!] --version	-V		print package version.

SharpTables: --state-dir DIR (or SHARPTABLES_STATE_DIR) selects where the ruleset is kept;
a leading -6 (or the sharptables6 command) selects ip6tables and its ruleset.

""";
}
