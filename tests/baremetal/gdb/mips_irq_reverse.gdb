set pagination off
set confirm off
break on_tick if n == 1
continue
echo ==A1\n
info registers
p ticks
p seen
p echoed
delete
break on_echo
continue
echo ==B1\n
info registers
p ticks
p seen
p echoed
p/x last
p/x work
echo ==IRQ\n
break general_vector
reverse-continue
printf "E %08x %08x\n", $pc, $sr
reverse-stepi
printf "E %08x %08x\n", $pc, $sr
stepi
printf "E %08x %08x\n", $pc, $sr
delete
echo ==WATCH\n
watch ticks
reverse-continue
p ticks
delete
break on_tick if n == 1
reverse-continue
echo ==A2\n
info registers
p ticks
p seen
p echoed
delete
break on_echo
continue
echo ==B2\n
info registers
p ticks
p seen
p echoed
p/x last
p/x work
echo ==LIVE\n
delete
break on_tick
continue
p echoed
p last == 'x'
echo ==END\n
kill
